"""Ships the top-level prompts/ folder inside the wheel as the package ``refaug._prompts``.

Everything else lives in pyproject.toml; setuptools cannot combine package discovery with
a package mapped from another folder in pyproject alone.
"""

from setuptools import find_packages, setup

setup(
    packages=find_packages(include=["refaug", "refaug.*"]) + ["refaug._prompts"],
    package_dir={"refaug._prompts": "prompts"},
    package_data={"refaug._prompts": ["*.jinja", "*.md"]},
)
