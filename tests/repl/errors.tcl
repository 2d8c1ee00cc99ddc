# Every error is a Tcl error that catch sees, with the usage line; the
# machine still works afterwards.
proc check {cond msg} {
    if {![uplevel 1 [list expr $cond]]} { puts stderr "FAIL: $msg"; exit 1 }
}
proc fails {script pattern} {
    if {![catch {uplevel 1 $script} msg]} { puts stderr "FAIL: no error from: $script"; exit 1 }
    if {![string match $pattern $msg]} { puts stderr "FAIL: $script -> $msg"; exit 1 }
}

fails {mem read 0 4}            "cannot read 4 bytes at 0x0*"
fails {mem write 0 abc}         "cannot write 3 bytes at 0x0*"
fails {mem read main}           "wrong # args: should be \"mem read ADDR LEN\""
fails {mem frob}                "*subcommand \"frob\"*mem read ADDR LEN*"
fails {mem}                     "usage:*mem write ADDR BYTES*"
fails {reg nosuch}              "unknown register \"nosuch\"*usage: reg ?NAME? ?VALUE?"
fails {reg a0 zork}             "expected a number*usage: reg*"
fails {x}                       "wrong # args: should be \"x ADDR ?COUNT? ?FMT?\""
fails {x main 4 q}              "bad count or format*"
fails {dis 0}                   "cannot read code at 0x0"
fails {break no_such_symbol}    "bad address \"no_such_symbol\"*usage: break ADDR|SYMBOL ?SCRIPT?"
fails {watch counter 4 zz}      "bad length or access*"
fails {delete 99}               "no breakpoint or watchpoint 99"
fails {delete many}             "expected a breakpoint id*"
fails {step 0}                  "bad count*usage: step ?N?"
fails {until nowhere}           "bad address*"
fails {exitcode}                "the program has not exited"
fails {sym nowhere}             "bad address*"
fails {addr 0}                  "no symbol covers 0x0"
fails {help nosuch}             "no command \"nosuch\"*"
fails {load elf /nonexistent/prog} "*already runs a Linux process*"
fails {trace on /nonexistent/dir/file} "cannot open*"
fails {info tlb 7}              "info tlb: no cpu 7 (the machine has 1)"
fails {info tlb x}              "expected integer*"
fails {console read}            "console: this machine has no board console*"
fails {snapshot restore none}   "snapshot restore: no snapshot \"none\"*"
fails {snapshot}                "usage:*snapshot save NAME*snapshot delete NAME|all*"
fails {dev read 0x1234 0}       "dev read: no device at 0x1234"

# A breakpoint script's error stops the run and reaches catch.
break add {error "boom in add"}
fails {cont} "boom in add"
delete all

# Tcl's own break, info and trace still work.
set n 0
foreach i {1 2 3 4} { if {$i == 3} break; incr n }
check {$n == 2} "Tcl break leaves loops"
check {[info exists n]} "Tcl info exists"
trace add variable n write {set ::traced 1 ;#}
set n 5
check {[info exists traced]} "Tcl variable traces"

# The machine is intact.
check {[step] eq "count"} "still steps"
check {[cont] eq "exit"} "still runs to the end"
puts "errors ok"
