# Pipe benchmark: time per event against N for every library.
# Called by scripts/bench.sh: gnuplot -e "datafile='...'; outfile='...'" bench/plot.gp
set terminal svg size 800,480 dynamic font "sans,12" background rgb "white"
set output outfile
set title "Pipe benchmark: 100 active socketpairs of N, 1,100 callbacks per iteration (median CPU time)"
set xlabel "N socketpairs"
set ylabel "ns per event"
set logscale x
set xtics (100, 1000, 3000, 9000)
set yrange [0:*]
set key top left
set grid ytics
plot datafile using 1:2 with linespoints lw 2 title "raw epoll", \
     datafile using 1:3 with linespoints lw 2 title "event_manager", \
     datafile using 1:4 with linespoints lw 2 title "libevent", \
     datafile using 1:5 with linespoints lw 2 title "libev", \
     datafile using 1:6 with linespoints lw 2 title "libuv"
