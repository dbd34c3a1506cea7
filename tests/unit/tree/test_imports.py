"""The import map: what each language's text imports, resolved against the tree."""

from __future__ import annotations

import pytest

from merkle.tree.imports import ImportGraph, references


@pytest.mark.parametrize(
    ("path", "text", "expected"),
    [
        (
            "pkg/a.py",
            "import os, pkg.b as b\nfrom . import c, d as e\nfrom ..core import (x,\n    y)\n"
            "    import lazy\n# import commented\n",
            ("os", "pkg.b", ". import c,d", "..core import x,y", "lazy"),
        ),
        (
            "web/app.ts",
            "import { a } from './util';\nimport x from \"../lib/x.js\";\n"
            "const y = require('./y');\nimport('./lazy');\nimport React from 'react';\n",
            ("./util", "../lib/x.js", "./y", "./lazy"),
        ),
        (
            "src/main.c",
            '#include "config.h"\n#include <stdio.h>\n#  include "../x.h"\n',
            ("config.h", "../x.h"),
        ),
        ("lib/a.rb", "require_relative 'b'\nrequire 'json'\n", ("b",)),
        ("README.md", "import os\n", ()),
    ],
)
def test_each_language_spells_its_imports(path: str, text: str, expected: tuple[str, ...]) -> None:
    assert references(path, text) == expected


FILES = [
    "src/pkg/__init__.py",
    "src/pkg/a.py",
    "src/pkg/b.py",
    "src/pkg/core/__init__.py",
    "src/pkg/core/x.py",
    "tests/test_a.py",
    "tests/pkg/b.py",
    "web/app.ts",
    "web/util/index.ts",
    "web/y.js",
    "native/main.c",
    "native/include/config.h",
    "lib/a.rb",
    "lib/b.rb",
]


def graph(imports: dict[str, str]) -> ImportGraph:
    return ImportGraph(FILES, {path: references(path, text) for path, text in imports.items()})


def test_python_imports_resolve_absolute_relative_and_from_names() -> None:
    found = graph(
        {
            "src/pkg/a.py": "import os\nfrom . import b\nfrom .core import x, helper\n",
            "src/pkg/core/x.py": "from .. import VERSION\nfrom ..b import thing\n",
            "tests/test_a.py": "from pkg.a import run\nimport pkg.core\n",
        }
    )

    assert found.imports("src/pkg/a.py") == ("src/pkg/b.py", "src/pkg/core/x.py")
    # A name inside a package is the package's `__init__.py`.
    assert found.imports("src/pkg/core/x.py") == ("src/pkg/__init__.py", "src/pkg/b.py")
    assert found.imports("tests/test_a.py") == ("src/pkg/a.py", "src/pkg/core/__init__.py")
    assert found.imported_by("src/pkg/b.py") == ("src/pkg/a.py", "src/pkg/core/x.py")
    assert found.imported_by("src/pkg/a.py") == ("tests/test_a.py",)
    assert found.covers("src/pkg/a.py") and not found.covers("src/pkg/b.py")


def test_of_two_files_with_one_dotted_name_the_nearest_is_meant() -> None:
    found = graph({"tests/test_a.py": "import pkg.b\n", "src/pkg/a.py": "import pkg.b\n"})

    assert found.imports("tests/test_a.py") == ("tests/pkg/b.py",)
    assert found.imports("src/pkg/a.py") == ("src/pkg/b.py",)


def test_scripts_includes_and_requires_resolve_relative_to_the_file() -> None:
    found = graph(
        {
            "web/app.ts": (
                "import u from './util'\nimport y from './y.js'\nimport z from '../../out'\n"
            ),
            "native/main.c": '#include "config.h"\n#include "missing.h"\n',
            "lib/a.rb": "require_relative 'b'\n",
        }
    )

    assert found.imports("web/app.ts") == ("web/util/index.ts", "web/y.js")
    # Not beside the file: the one file of the workspace that ends so.
    assert found.imports("native/main.c") == ("native/include/config.h",)
    assert found.imports("lib/a.rb") == ("lib/b.rb",)
    assert found.imported_by("lib/b.rb") == ("lib/a.rb",)
