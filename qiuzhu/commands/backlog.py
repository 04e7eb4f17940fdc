"""`qiuzhu index ...`, `qiuzhu load` and `qiuzhu search`: the backlog in Elasticsearch."""

COMMANDS: tuple = ()
