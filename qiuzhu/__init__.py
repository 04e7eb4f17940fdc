"""qiuzhu: one searchable, deduplicated backlog of public help requests."""

__version__ = "0.1.0"
