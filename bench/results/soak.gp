set terminal pngcairo size 1200,1100 background rgb 'white'
set output 'soak.png'
set multiplot layout 3,1 title "anarcho-bench soak: 3 nodes, SET pipeline 16, 50 connections, keyspace 1000000, 64 B values (2026-12-06, 2 cores, AMD EPYC)" noenhanced
set grid
set key outside right top
set lmargin at screen 0.08
set rmargin at screen 0.76
set xrange [0:600]
set xlabel 'time since the load started (s)'
set ylabel 'RSS (MiB)'
plot 'soak.dat' index 0 using 1:2 with lines lw 2 lc 1 title 'n1 node', '' index 0 using 1:3 with lines lw 2 dt 2 lc 1 title 'n1 redis-server', '' index 0 using 1:4 with lines lw 1 dt 3 lc 1 title 'n1 used\_memory', \
     'soak.dat' index 1 using 1:2 with lines lw 2 lc 2 title 'n2 node', '' index 1 using 1:3 with lines lw 2 dt 2 lc 2 title 'n2 redis-server', '' index 1 using 1:4 with lines lw 1 dt 3 lc 2 title 'n2 used\_memory', \
     'soak.dat' index 2 using 1:2 with lines lw 2 lc 3 title 'n3 node', '' index 2 using 1:3 with lines lw 2 dt 2 lc 3 title 'n3 redis-server', '' index 2 using 1:4 with lines lw 1 dt 3 lc 3 title 'n3 used\_memory'
set ylabel 'disk under --dir (MiB)'
plot 'soak.dat' index 0 using 1:5 with lines lw 2 lc 1 title 'n1 total', '' index 0 using 1:6 with lines lw 1 dt 2 lc 1 title 'n1 log/', \
     'soak.dat' index 1 using 1:5 with lines lw 2 lc 2 title 'n2 total', '' index 1 using 1:6 with lines lw 1 dt 2 lc 2 title 'n2 log/', \
     'soak.dat' index 2 using 1:5 with lines lw 2 lc 3 title 'n3 total', '' index 2 using 1:6 with lines lw 1 dt 2 lc 3 title 'n3 log/'
set ylabel 'operations/s'
set yrange [0:*]
plot 'soak.dat' index 3 using 1:2 with linespoints lw 2 pt 7 ps 0.5 lc 8 title 'SET ops/s', '' index 3 using 1:($3 > 0 ? $2 : 1/0) with points pt 6 ps 1.5 lc 7 title 'snapshot (leader)'
unset multiplot
