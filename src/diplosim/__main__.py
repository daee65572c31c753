from diplosim.process import entry

entry()
