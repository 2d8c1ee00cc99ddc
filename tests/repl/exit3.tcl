# `exit N` ends the script with status N, even inside catch.
catch { exit 3 }
puts "not reached"
