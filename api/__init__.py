"""HTTP interface, authentication, web pages and the `zhian` command line."""
