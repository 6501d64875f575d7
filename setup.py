"""Ships the top-level prompts/ folder inside the wheel as the package ``refaug._prompts``.

Everything else lives in pyproject.toml; setuptools cannot combine package discovery with
a package mapped from another folder in pyproject alone.
"""

from setuptools import find_packages, setup

setup(
    # refaug/templates/ (the review page's template) is a data folder: named here, as setuptools asks
    packages=find_packages(include=["refaug", "refaug.*"]) + ["refaug._prompts", "refaug.templates"],
    package_dir={"refaug._prompts": "prompts"},
    package_data={"refaug._prompts": ["*.jinja", "*.md"], "refaug.templates": ["*.jinja"]},
)
