"""What goes over the wire, and what it means: ``models`` (attrs replies and
messages), ``convert`` (the one cattrs converter, with ``fastpath`` for the
plain shapes), ``build`` (a method call to a request), ``schema`` (structured
output), ``usage`` (the tokens a reply reports) and ``estimate`` (the tokens
a call is guessed to cost)."""
