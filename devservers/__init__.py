"""Real Apache Kafka and PostgreSQL on 127.0.0.1 for the demo, the tests and CI (no Docker).

`python -m devservers up|down|status|env|logs|reset`; see docs/local-servers.md. Only the
standard library is imported here and in the modules' top levels, so importing the package
is cheap.
"""
