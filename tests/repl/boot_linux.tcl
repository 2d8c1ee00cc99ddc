# vmpy repl --boot on Debian's kernel and busybox initrd (test_repl.py):
# wait for the shell, run a command, then print the soft TLBs of both harts.
console expect "initramfs ready" 120
console expect "# " 30
console send "uname -m\n"
puts "UNAME<[console expect "# " 30]>"
run 100000
puts "TLB-BEGIN\n[info tlb 0]\n[info tlb 1]\nTLB-END"
exit 0
