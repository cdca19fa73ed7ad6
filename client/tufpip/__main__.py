from tufpip.cli import main

main()
