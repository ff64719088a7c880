"""The field kinds; importing this package registers every one of them."""
from forms.kinds import boolean, choices, dates, numbers, personal, text, upload  # noqa: F401
