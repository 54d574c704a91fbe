"""Built-in source parsers. Importing this package registers every module's parser in ``PARSERS``.

Each module here holds the parser(s) of one format family; modules whose names start with an
underscore are shared helpers.
"""

import importlib
import pkgutil

for _module in pkgutil.iter_modules(__path__):
    if not _module.name.startswith("_"):
        importlib.import_module(f"{__name__}.{_module.name}")
