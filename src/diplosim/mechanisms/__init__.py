"""The model's mechanisms: one pure function ``(world, params, key) -> world`` per module.

``diplosim.engine.step`` composes them in the order of docs/MODEL.md.
"""
