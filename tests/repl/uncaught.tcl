# An uncaught error fails the script (status 1, message on stderr).
step
reg no_such_register
puts "not reached"
