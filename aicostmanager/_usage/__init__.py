"""Pure usage extraction: provider responses and stream events -> usage payloads.

No provider SDK is imported here: the functions read attributes or keys, so they work on SDK
objects and on plain JSON bodies alike (tests feed them recorded bodies). Each provider has
its own module; ``_common`` holds the shared pieces.
"""

from __future__ import annotations

from ._common import *  # noqa: F403  (the package's API is _common's)
from ._common import __all__ as __all__
