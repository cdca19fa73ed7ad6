"""tufpip: install Python packages only after TUF verification.

The public facade is ``tufpip.client.Client``; ``tufpip.cli`` is the command.
"""
