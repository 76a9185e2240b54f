"""The server-rendered web site: pages, feeds and the OpenSearch description."""
