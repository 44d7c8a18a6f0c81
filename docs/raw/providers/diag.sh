# Why the service did not become ready on webgpu,cpu: four layouts, 40 s each, logs kept in $OUT.
source .device/setup.sh > /tmp/setup.log 2>&1
get() { node -e 'fetch(process.argv[1]).then(async r=>{process.stdout.write(r.status+" "+(await r.text()).slice(0,700)+"\n")}).catch(e=>{console.log("ERR "+e.cause?.code)})' "$1"; }
try() {
  local name=$1; shift
  env "$@" GAN_MODELS_DIR=models GAN_HOST=127.0.0.1 GAN_PORT=18080 GAN_EXECUTION_PROVIDERS=webgpu,cpu GAN_LOG_LEVEL=info timeout 45 node dist/server.js > $OUT/$name.log 2>&1 &
  local pid=$! ok=no t0=$(date +%s)
  for i in $(seq 1 80); do sleep 0.5; if get http://127.0.0.1:18080/readyz | grep -q '^200'; then ok="yes after $(( $(date +%s) - t0 ))s"; break; fi; done
  echo "== $name: ready $ok"; get http://127.0.0.1:18080/readyz; get http://127.0.0.1:18080/v1/models/mnist-dcgan | cut -c1-400
  if [ "$ok" != no ]; then node -e 'const t=performance.now();fetch("http://127.0.0.1:18080/generate",{method:"POST",headers:{"content-type":"application/json"},body:JSON.stringify({model:"mnist-dcgan",seed:1,count:16})}).then(async r=>console.log("generate",r.status,(await r.arrayBuffer()).byteLength,"bytes",(performance.now()-t).toFixed(0),"ms"))'; fi
  kill $pid 2>/dev/null; wait $pid 2>/dev/null
  grep -v '^$' $OUT/$name.log | cut -c1-260 | tail -6
}
try w1-thread GAN_WORKERS=1
try w4-process GAN_WORKERS=4 GAN_WORKER_ISOLATION=process
try w4-thread GAN_WORKERS=4
try w2-thread GAN_WORKERS=2
