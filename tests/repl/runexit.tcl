# Run the program to its end and pass its exit status on.
set r [cont]
if {$r ne "exit"} { puts stderr "stopped: $r"; exit 99 }
exit [exitcode]
