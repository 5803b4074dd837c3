"""Reading a finished run: the console round table and learning curve (table.py), PNG charts
(charts.py) and `star report`'s static HTML page (html.py, page_data.py, figures.py, page.py)."""
