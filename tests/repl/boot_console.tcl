# vmpy repl --boot on a bare-metal UART echo program (test_repl.py builds it):
# it prints "ready> ", then for each byte typed calls got_char(c) and echoes
# it in upper case; 'x' powers off with the number of bytes typed as the code.
proc check {what got want} {
    if {$got ne $want} { puts stderr "FAIL $what: got {$got}, want {$want}"; exit 1 }
}
load symbols [lindex $argv 0]
check prompt [console expect {ready> } 10] {ready> }
break got_char
console send q
check stop [cont] breakpoint
check a0 [reg a0] 0x71                       ;# 'q', the argument of got_char
delete all
check echo [console expect Q 5] Q
check lsr [dev read uart0 5 1] 0x60           ;# 16550 LSR: THRE|TEMT, no data
check catch1 [catch {dev read nosuch 0} msg] 1
check msg1 $msg {no device "nosuch" (`dev list` shows them)}
check catch2 [catch {dev read uart0 0 3} msg] 1
check msg2 $msg {dev read: a device access is 1, 2, 4 or 8 bytes, not 3}
snapshot save s1
console send x
cont
check exit1 [exitcode] 2                      ;# q and x
check catch3 [catch {cont} msg] 1
snapshot restore s1                          ;# back before the x: typed = 1
console send ax
run
check exit2 [exitcode] 3
check after [console read] A
check list [lindex [snapshot list] 0 0] s1
check catch4 [catch {snapshot restore nope} msg] 1
check msg4 $msg {snapshot restore: no snapshot "nope" (`snapshot list` shows them)}
if {![string match "*0x0000000010000000 0x00001000 uart0*" [dev list]]} { exit 1 }
exit 42
