# Breakpoints on symbols, breakpoint scripts, finish and the exit status.
# Run as: vmpy repl --script breakpoints.tcl PROG A B   (PROG is tests' prog.c)
proc check {cond msg} {
    if {![uplevel 1 [list expr $cond]]} { puts stderr "FAIL: $msg"; exit 1 }
}

# A script that ends with `continue` logs the call and resumes the run.
set calls {}
set id [break add {lappend ::calls [list [expr {[reg a0]}] [expr {[reg a1]}]]; continue}]
check {$id == 1} "first breakpoint id is 1, got $id"
set f [break fact]

check {[cont] eq "breakpoint"} "cont stops at fact"
check {[reg pc] == [sym fact]} "pc is at fact"
check {[addr [reg pc]] eq "fact"} "addr names fact"
# main's loop: counter = add(counter, i) for i in 0..4
check {$calls eq {{0 0} {0 1} {1 2} {3 3} {6 4}}} "add was called with $calls"
check {[reg a0] == 5} "fact(5) is the first call"

delete $f
check {[finish] eq "until"} "finish returns to main"
check {[reg a0] == 120} "fact(5) returned [reg a0]"

delete all
check {[cont] eq "exit"} "the program runs to its exit"
# main returns argc + 2; argv = PROG A B
check {[exitcode] == [llength $argv] + 2} "exit status [exitcode]"
set failed [catch {cont} msg]
check {$failed && [string match "*exited*" $msg]} "no run after exit: $msg"
puts "breakpoints ok"
