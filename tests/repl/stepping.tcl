# step, next, finish, until and run on the test program.
proc check {cond msg} {
    if {![uplevel 1 [list expr $cond]]} { puts stderr "FAIL: $msg"; exit 1 }
}

check {[until main] eq "until"} "until main"
check {[reg pc] == [sym main]} "at main"
set before [reg pc]
check {[step] eq "count"} "one step"
check {[reg pc] != $before} "step moved the pc"

# Find main's first call to add in the disassembly (the `# ... <add>` note).
set call ""
foreach line [split [dis main 60] \n] {
    if {[regexp {^\S*\s*(0x[0-9a-f]+) <main\+\d+>:\s+jal (?:ra, )?\S+\s+# 0x[0-9a-f]+ <add>} $line -> a]} {
        set call $a
        break
    }
}
check {$call ne ""} "found a call to add in main"
check {[until $call] eq "until"} "until the call"
check {[reg pc] == $call} "pc at the call"

# next runs the call to its return: add(0, 0)
check {[next] eq "until"} "next over the call"
check {[reg pc] == $call + 4} "next stopped after the call, pc=[reg pc]"
check {[reg a0] == 0} "add(0, 0) = [reg a0]"

# The second call: step into add, then finish back out: add(0, 1)
check {[until $call] eq "until"} "until the call again"
check {[step] eq "count"} "step into the call"
check {[reg pc] == [sym add]} "step entered add"
check {[finish] eq "until"} "finish"
check {[reg pc] == $call + 4} "finish returned after the call"
check {[reg a0] == 1} "add(0, 1) = [reg a0]"

# Loops over commands: ten single steps each move the pc.
set pcs {}
for {set i 0} {$i < 10} {incr i} {
    step
    lappend pcs [reg pc]
}
check {[llength $pcs] == 10} "ten steps"
check {[run 50] eq "count"} "run 50 stops on the budget"
check {[run] eq "exit"} "run to the end"
puts "stepping ok"
