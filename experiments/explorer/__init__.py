"""The interactive explorer (`make app`): controls, paired runs month by month, ECharts
plots and the solara page; `assets`: the front-end files it serves itself.
"""
