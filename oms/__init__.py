"""oms: a multi-exchange crypto order management system.

The package root only names the version; every room lives in its own subpackage (see DESIGN.md).
"""

from __future__ import annotations

__version__ = "0.1.0"
