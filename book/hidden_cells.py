"""A cell hidden in JupyterLab (metadata ``jupyter.source_hidden``: the set-up cell) shows only its outputs in the
book: myst-nb reads each notebook through ``read`` (book/_config.yml: ``nb_custom_formats``), which tags it
``remove-input``. A Sphinx extension only so that Jupyter Book puts this folder on ``sys.path``."""

import nbformat


def read(text: str) -> nbformat.NotebookNode:
    nb = nbformat.reads(text, as_version=4)
    for cell in nb.cells:
        if cell.get("metadata", {}).get("jupyter", {}).get("source_hidden"):
            tags = cell.metadata.setdefault("tags", [])
            if "remove-input" not in tags:
                tags.append("remove-input")
    return nb


def setup(app):
    return {"parallel_read_safe": True, "parallel_write_safe": True}
