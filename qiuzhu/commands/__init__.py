"""Click commands of the `qiuzhu` CLI, one module per noun; cli.py registers them."""
