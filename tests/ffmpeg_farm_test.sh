#!/usr/bin/env bash
# The ffmpeg farm example, for real (scripts/test.sh runs it after ctest):
#   tests/ffmpeg_farm_test.sh [BUILD_DIR]     (default build)
# Runs examples/ffmpeg_farm/run.sh against BUILD_DIR's cascade-server and
# cascade-worker into a temporary directory, then checks what it printed:
#   - it exits 0 and prints the path of an existing file;
#   - ffprobe: one H.264 video stream, 320x240, duration 5.8-6.2 s, and 150
#     frames decoded (3 clips x 2 s x 25 fps);
#   - 3 segments, in job.json's order: the frames at 1 s, 3 s and 5 s (the
#     middle of each clip) match the frame at 1 s of the child's own lavfi
#     source (testsrc, smptebars, rgbtestsrc), made here straight from lavfi:
#     the mean difference of 8x6 RGB thumbnails is under 15 (of 255) for the
#     matching source and over 60 for the other two;
#   - nothing it started is left running.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "${1:-$repo/build}" && pwd)
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
failures=0
check() {  # check CONDITION-TEXT OK(0|1) DETAIL
  if [[ "$2" == 0 ]]; then
    echo "  ok   $1"
  else
    echo "  FAIL $1: $3"
    failures=$((failures + 1))
  fi
}

# ---- Run the example --------------------------------------------------------------------
status=0
FFMPEG_FARM_OUTPUT="$out/videos" FFMPEG_FARM_TIMEOUT=60 \
  "$repo/examples/ffmpeg_farm/run.sh" "$build" >"$out/stdout" 2>"$out/stderr" &
run_pid=$!
wait "$run_pid" || status=$?
video=$(tail -n 1 "$out/stdout")
if ((status != 0)) || [[ ! -f "$video" ]]; then
  cat "$out/stderr"
  echo "ffmpeg_farm: FAIL (run.sh exited $status, printed '$video')"
  exit 1
fi
echo "ffmpeg_farm: run.sh rendered $video"

# Its workers are named ffmpeg-farm-<run.sh's pid>-N; its server's --output-url
# names the output directory.
left=$(ps -eo pid=,args= | grep -F -e "ffmpeg-farm-$run_pid-" -e "file://$out/videos" |
  grep -v -e grep -e "ps -eo" || true)
check "run.sh left no process behind" "$([[ -z "$left" ]]; echo $?)" "$left"
if [[ -n "$left" ]]; then kill -KILL $(awk '{ print $1 }' <<<"$left") 2>/dev/null || true; fi

# ---- ffprobe ----------------------------------------------------------------------------
probe() { ffprobe -v error -select_streams v "$@" -of default=noprint_wrappers=1:nokey=1 "$video"; }
streams=$(ffprobe -v error -show_entries stream=codec_type -of csv=p=0 "$video" | sort | tr '\n' ' ')
check "one stream, video" "$([[ "$streams" == "video " ]]; echo $?)" "streams: $streams"
codec=$(probe -show_entries stream=codec_name)
size=$(probe -show_entries stream=width,height | tr '\n' 'x')
check "H.264, 320x240" "$([[ "$codec $size" == "h264 320x240x" ]]; echo $?)" "$codec $size"
duration=$(ffprobe -v error -show_entries format=duration -of csv=p=0 "$video")
check "duration $duration s, within 5.8-6.2" \
  "$(awk -v d="$duration" 'BEGIN { exit !(d >= 5.8 && d <= 6.2) }'; echo $?)" "$duration"
frames=$(probe -count_frames -show_entries stream=nb_read_frames)
check "150 frames decoded (3 x 2 s x 25 fps)" "$([[ "$frames" == 150 ]]; echo $?)" "$frames"

# ---- The three segments, in order -------------------------------------------------------
# thumb OUTFILE ffmpeg-args...: one frame of the input (at -ss), as the render
# sees it (yuv420p), shrunk to 8x6 by area and written as RGB.
thumb() {
  local file=$1
  shift
  ffmpeg -nostdin -v error "$@" -frames:v 1 -vf format=yuv420p,scale=8:6:flags=area -f rawvideo \
    -pix_fmt rgb24 -y "$file"
}
# diff A B: the mean absolute difference of two thumbnails' bytes (0-255).
diff_thumbs() {
  paste <(od -An -v -tu1 -w1 "$1") <(od -An -v -tu1 -w1 "$2") |
    awk '{ d = $1 - $2; s += d < 0 ? -d : d; n++ } END { printf "%.1f", n ? s / n : 255 }'
}
mapfile -t patterns < <(grep -o '"pattern": *"[a-z0-9]*"' "$repo/examples/ffmpeg_farm/job.json" |
  cut -d'"' -f4)
check "job.json has 3 children" "$([[ ${#patterns[@]} == 3 ]]; echo $?)" "${patterns[*]}"
for i in "${!patterns[@]}"; do
  thumb "$out/ref-$i.rgb" -f lavfi -i "${patterns[$i]}=duration=2:size=320x240:rate=25" -ss 1
  thumb "$out/seg-$i.rgb" -i "$video" -ss "$((2 * i + 1))"
done
for i in "${!patterns[@]}"; do
  for j in "${!patterns[@]}"; do
    d=$(diff_thumbs "$out/seg-$i.rgb" "$out/ref-$j.rgb")
    if ((i == j)); then
      check "segment $((i + 1)) (at $((2 * i + 1)) s) is ${patterns[$j]} (difference $d)" \
        "$(awk -v d="$d" 'BEGIN { exit !(d < 15) }'; echo $?)" "$d"
    else
      check "segment $((i + 1)) is not ${patterns[$j]} (difference $d)" \
        "$(awk -v d="$d" 'BEGIN { exit !(d > 60) }'; echo $?)" "$d"
    fi
  done
done

if ((failures)); then
  echo "ffmpeg_farm: FAIL ($failures checks failed)"
  exit 1
fi
echo "ffmpeg_farm: PASS (a ${duration} s video of 3 segments, rendered by cascade-worker + ffmpeg)"
