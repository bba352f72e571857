"""The web console's files (index.html, console.js, console.css), served by
`service.api.console`."""
