// llama.cpp's speed on a model, measured as llama-bench does (pp: one batch of N prompt
// tokens on an empty cache; tg: N tokens decoded one at a time on an empty cache), through
// node-llama-cpp's prebuilt libllama (its CPU backend picks the variant for this CPU at run
// time). Used by bench/vs_llamacpp.sh; prints "pp T/S" and "tg T/S", one line per repetition.
//   node bench.mjs MODEL.gguf THREADS REPS [PROMPT [GEN]]
import {getLlama, LlamaLogLevel} from "node-llama-cpp";

const [, , modelPath, threadsArg = "2", repsArg = "1", ppArg = "128", tgArg = "32"] = process.argv;
const threads = Number(threadsArg), reps = Number(repsArg), pp = Number(ppArg), tg = Number(tgArg);
const llama = await getLlama({gpu: false, build: "never", logLevel: LlamaLogLevel.error});
const model = await llama.loadModel({modelPath, gpuLayers: 0, useMmap: true});
const ctx = await model.createContext({contextSize: Math.max(pp, tg) + 64, batchSize: Math.max(pp, 1),
                                       threads, flashAttention: false});
const seq = ctx.getSequence();
// Token ids below every vocabulary's size, none of them special in the models we make.
const ids = (n, from) => Array.from({length: n}, (_, i) => 300 + ((from + i * 7919) % 20000));
const time = async (f) => {
    const t0 = process.hrtime.bigint();
    await f();
    return Number(process.hrtime.bigint() - t0) / 1e9;
};
for (let r = 0; r <= reps; r++) { // r = 0: warm-up, not printed
    const out = [];
    if (pp > 0) {
        await seq.clearHistory();
        const s = await time(() => seq.evaluateWithoutGeneratingNewTokens(ids(pp, r)));
        out.push(`pp ${(pp / s).toFixed(2)}`);
    }
    if (tg > 0) {
        await seq.clearHistory();
        const s = await time(async () => {
            for (const t of ids(tg, r)) await seq.evaluateWithoutGeneratingNewTokens([t]);
        });
        out.push(`tg ${(tg / s).toFixed(2)}`);
    }
    if (r > 0) console.log(out.join("\n"));
}
await ctx.dispose();
await model.dispose();
process.exit(0);
