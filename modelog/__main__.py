"""``python -m modelog``: the same as the ``modelog`` command."""

from modelog.cli.main import main

if __name__ == "__main__":
    main()
