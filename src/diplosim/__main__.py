from diplosim.cli import main

main()
