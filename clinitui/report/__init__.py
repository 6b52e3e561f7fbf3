"""The offline evaluation report (``clinitui report``): build.py gathers the numbers, plots.py draws
them, html.py lays them out with template.html.j2. Imported only by ``clinitui report`` and the
TUI's report action (it needs the ``report`` extra: Jinja2 and matplotlib)."""
