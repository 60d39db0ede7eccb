"""``python -m pv_survey.cli``: the same click group as the ``pv-survey`` command."""

from . import main

if __name__ == "__main__":
    main()
