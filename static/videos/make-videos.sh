#!/bin/sh
# How the two short campaign videos and their posters were made (needs ffmpeg and the Noto CJK fonts;
# the generated files are committed, so neither CI nor `make run` needs ffmpeg).
set -eu
cd "$(dirname "$0")"
FONT=/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc
make_video() {  # code, colour, Japanese title, English line
  ffmpeg -hide_banner -loglevel error -y -f lavfi -i "color=c=$2:s=640x360:d=8:r=20" -vf "\
drawbox=x=0:y=300:w=640:h=60:color=white@0.25:t=fill,\
drawtext=fontfile=$FONT:text='●':fontcolor=white:fontsize=40:x='20+t*72':y=306,\
drawtext=fontfile=$FONT:text='Wesmo! スタンプラリーミッション':fontcolor=white:fontsize=26:x=(w-tw)/2:y=40,\
drawtext=fontfile=$FONT:text='$3':fontcolor=white:fontsize=44:x=(w-tw)/2:y=120,\
drawtext=fontfile=$FONT:text='$4':fontcolor=white:fontsize=22:x=(w-tw)/2:y=190,\
drawtext=fontfile=$FONT:text='%{eif\:t+1\:d} / 8':fontcolor=white:fontsize=22:x=w-tw-20:y=260" \
    -c:v libvpx-vp9 -b:v 120k -g 20 -deadline good -cpu-used 4 -an "$1.webm"
  ffmpeg -hide_banner -loglevel error -y -ss 1 -i "$1.webm" -frames:v 1 "$1.png"
}
make_video video-1 0x0a5bd3 'おトクにおでかけ' 'Go further with Wesmo!'
make_video video-2 0x0b3f91 'BLUE タグで支払おう' 'Pay with a BLUE tag'
