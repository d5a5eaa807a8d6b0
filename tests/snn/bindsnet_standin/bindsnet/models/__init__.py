from .models import DiehlAndCook2015  # noqa: F401
