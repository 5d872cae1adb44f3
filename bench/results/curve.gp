set terminal svg size 1100,600 dynamic background rgb 'white'
set output 'curve.svg'
set title "Latency vs throughput, open loop, set, 50 connections (2026-11-26, 2 cores, Intel(R) Xeon(R) Processor)" noenhanced
set xlabel 'achieved throughput (operations/s)'
set ylabel 'latency from intended send time (us)'
set logscale xy
set format y '%g'
set grid
set key outside right top noenhanced
set format x '%.0s%c'
plot 'curve.dat' index 0 using 2:4 with linespoints lw 2 lc 1 pt 7 title 'redis p99', '' index 0 using 2:3 with linespoints lw 1 lc 1 dt 2 pt 6 title 'redis p50', \
     'curve.dat' index 1 using 2:4 with linespoints lw 2 lc 2 pt 7 title 'redis-aof p99', '' index 1 using 2:3 with linespoints lw 1 lc 2 dt 2 pt 6 title 'redis-aof p50', \
     'curve.dat' index 2 using 2:4 with linespoints lw 2 lc 3 pt 7 title 'anarcho-1 p99', '' index 2 using 2:3 with linespoints lw 1 lc 3 dt 2 pt 6 title 'anarcho-1 p50', \
     'curve.dat' index 3 using 2:4 with linespoints lw 2 lc 4 pt 7 title 'anarcho-3-leader p99', '' index 3 using 2:3 with linespoints lw 1 lc 4 dt 2 pt 6 title 'anarcho-3-leader p50', \
     'curve.dat' index 4 using 2:4 with linespoints lw 2 lc 5 pt 7 title 'anarcho-3-follower p99', '' index 4 using 2:3 with linespoints lw 1 lc 5 dt 2 pt 6 title 'anarcho-3-follower p50'
set terminal pngcairo size 1100,600 background rgb 'white'
set output 'curve.png'
replot
