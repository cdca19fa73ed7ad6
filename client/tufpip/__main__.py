from tufpip.cli import run

run()
