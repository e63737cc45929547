"""``python -m mlwright`` runs the command-line interface."""

from mlwright.cli import main

if __name__ == "__main__":
    main()
