"""Builds the optional one-pass statistics kernel (inspector/core/_fused.c).

Everything else is declared in pyproject.toml. The kernel is optional: where
no C compiler is at hand the build goes on without it and the statistics use
stock torch reductions (same numbers, a few more passes over each output).
"""

import sys

from setuptools import Extension, setup

flags = [] if sys.platform == "win32" else ["-O3", "-fopenmp", "-std=c11", "-ffp-contract=off"]
link = [] if sys.platform == "win32" else ["-fopenmp"]

setup(
    ext_modules=[
        Extension(
            "inspector.core._fused",
            ["inspector/core/_fused.c"],
            extra_compile_args=flags,
            extra_link_args=link,
            optional=True,
        )
    ]
)
