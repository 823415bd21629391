"""The numbers behind the plots, as pure functions: the API serves them, the pages print them as
tables under each plot, and the browser only draws what it is given (so a plot is tested on
numbers, not pixels)."""
