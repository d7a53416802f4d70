"""ganbench.config's surface loads each name on first use, so naming config keys or reading YAML imports no torch."""

from __future__ import annotations

import subprocess
import sys

import ganbench.config


def test_every_exported_name_loads_from_its_module():
    assert set(ganbench.config.__all__) == set(ganbench.config._HOMES)
    for name in ganbench.config.__all__:
        module = ganbench.config._HOMES[name]
        assert getattr(ganbench.config, name) is getattr(sys.modules[f"ganbench.config.{module}"], name)


def test_the_schema_and_yaml_import_no_registries():
    code = ("import sys\nfrom ganbench.config import FIELDS, flatten, read_yaml, parse_override\n"
            "print('torch' in sys.modules, 'ganbench.data' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]
