# Registers and memory: reg, mem read/write, x, watch.
proc check {cond msg} {
    if {![uplevel 1 [list expr $cond]]} { puts stderr "FAIL: $msg"; exit 1 }
}

check {[until main] eq "until"} "until main"
foreach r {a0 a1 a2 t0} v {7 0x1234 -1 0} {
    reg $r $v
    check {[reg $r] == ($v & 0xffffffffffffffff)} "reg $r = $v, read [reg $r]"
}
check {[reg x10] == 7} "x10 is a0"
check {[reg zero 5] == 0} "x0 stays zero"
check {[string match "*pc   0x*<main>*" [reg]]} "the dump shows the pc at main"

# message[] = "hello repl"
set bytes [mem read message 10]
check {[string length $bytes] == 10} "mem read length"
check {$bytes eq "hello repl"} "mem read message: $bytes"
check {[string match {*"hello repl"} [x message 1 s]]} "x s: [x message 1 s]"
check {[string match "*0x1122334455667788*" [x table 1 g]]} "x g: [x table 1 g]"
check {[string match "*0x55667788 0x11223344*" [x table 2 w]]} "x w (little-endian): [x table 2 w]"
check {[string match "*88 77 66 55 44 33 22 11*" [x table 8]]} "x hexdump: [x table 8]"

check {[mem write counter [binary format i 42]] == 4} "mem write returns the count"
binary scan [mem read counter 4] iu v
check {$v == 42} "counter reads back $v"
check {[string match "*0x0000002a*" [x counter 1 w]]} "x sees the write"

# A write watchpoint on counter stops the loop's first store.
set w [watch counter 4 w]
check {[cont] eq "watchpoint"} "the watchpoint fires"
check {[string match "*watch*counter*hits 1*" [info breakpoints]]} "listed: [info breakpoints]"
delete $w
check {[info breakpoints] eq "no breakpoints or watchpoints"} "deleted"
check {[string match "*r-x ram*" [info regions]]} "regions: [info regions]"
check {[string match "*func main" [info symbols main]]} "info symbols main"
puts "regmem ok"
