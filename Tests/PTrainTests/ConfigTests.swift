import Testing
import PTrain
import PTrainKernels

/// A valid config to start from; tests change one thing at a time.
let baseConfig = """
name: t
data:
  dataset: synthetic
model:
  input: [1, 8, 8]
  layers:
    - {type: conv2d, filters: 4, kernel: 3}
    - {type: relu}
    - {type: maxpool, kernel: 2}
    - {type: flatten}
    - {type: dense, units: 10}
train:
  epochs: 2
  batch: 8
  optimizer: {lr: 0.1, momentum: 0.9}
"""

func configError(_ yaml: String, overrides: [String] = []) -> String? {
    do {
        _ = try RunConfig.parse(yaml: yaml, file: "t.yaml", overrides: overrides)
        return nil
    } catch let e as ConfigError {
        return e.description
    } catch {
        return "unexpected error type: \(error)"
    }
}

@Test("a valid config decodes with defaults filled in")
func validConfig() throws {
    let c = try RunConfig.parse(yaml: baseConfig, file: "t.yaml")
    #expect(c.train.epochs == 2 && c.train.batch == 8 && c.runtime.shard == 8 && c.runtime.workers == nil && c.runtime.syncEvery == 1)
    #expect(c.train.optimizer == OptimizerConfig(learningRate: 0.1, momentum: 0.9, nesterov: false, weightDecay: 0))
    #expect(c.seed == 1)
    let model = try c.model.build()
    #expect(model.outputShape == TensorShape(10))
    // The resolved config holds the defaults and decodes to the same run.
    #expect(c.resolvedYAML.contains("shard: 8"))
    #expect(c.resolvedYAML.contains("weight_decay: 0.0"))
    #expect(c.runtime.precision == .fp32 && c.resolvedYAML.contains("precision: fp32"))
    let again = try RunConfig.parse(yaml: c.resolvedYAML, file: "resolved.yaml")
    #expect(again.resolvedYAML == c.resolvedYAML)
}

@Test("config errors name the file, line, key, what was expected and what was found")
func configErrorMessages() {
    let cases: [(String, String)] = [
        (baseConfig.replacingOccurrences(of: "epochs: 2", with: "epochs: ten"),
         "t.yaml:13:11: train.epochs: expected an integer >= 1, found 'ten'"),
        (baseConfig.replacingOccurrences(of: "epochs: 2", with: "epoch: 2"),
         "t.yaml:13:3: train: missing required key 'epochs' (is 'epoch' at line 13 a typo?)"),
        (baseConfig.replacingOccurrences(of: "  batch: 8\n", with: ""),
         "t.yaml:13:3: train: missing required key 'batch'"),
        (baseConfig.replacingOccurrences(of: "dataset: synthetic", with: "dataset: imagenet"),
         "t.yaml:3:12: data.dataset: expected one of: mnist, fashion-mnist, digits, cifar-10, cifar-100, folder, synthetic, found 'imagenet'"),
        (baseConfig.replacingOccurrences(of: "{type: relu}", with: "{type: relu6}"),
         "t.yaml:8:14: model.layers[1].type: expected one of: add, avgpool, batchnorm, concat, conv1d, conv2d, dense, dropout, factorized_reduce, flatten, global_avgpool, local2d, lrn, maxpool, mixed, relu, reshape, shortcut, sigmoid, zero, found 'relu6'"),
        (baseConfig.replacingOccurrences(of: "filters: 4, kernel: 3", with: "filters: 4, kernel: 9"),
         "t.yaml:7:7: model.layers[0]: (conv2d) kernel 9x9 does not fit the input 1x8x8 padded by 0x0 (8x8)"),
        (baseConfig.replacingOccurrences(of: "filters: 4, kernel: 3}", with: "filters: 4, kernel: 3, dilation: 4}"),
         "t.yaml:7:7: model.layers[0]: (conv2d) kernel 3x3 dilated by 4x4 spans 9x9, which does not fit the input 1x8x8 padded by 0x0 (8x8)"),
        (baseConfig.replacingOccurrences(of: "filters: 4, kernel: 3}", with: "filters: 4, kernel: 3, dilation: [2, 0]}"),
         "t.yaml:7:59: model.layers[0].dilation[1]: expected an integer in [1, 65536], found '0'"),
        (baseConfig.replacingOccurrences(of: "lr: 0.1", with: "lr: 0"),
         "t.yaml:15:19: train.optimizer.lr: expected a number in (0.0, 100.0], found '0'"),
        (baseConfig.replacingOccurrences(of: "lr: 0.1", with: "lr: [0.1]"),
         "t.yaml:15:19: train.optimizer.lr: expected a number in (0.0, 100.0], found a list of 1 item"),
        (baseConfig + "\nruntime: {shard: 3}\n",
         "t.yaml:16:18: runtime.shard: the global batch 8 must be a multiple of the shard size 3"),
        (baseConfig + "\ntrain: {epochs: 1}\n", "t.yaml:12: duplicate key 'train' (a key may appear once per mapping)"),
        ("name: [unclosed", "t.yaml: not valid YAML: line 2, column 1: did not find expected ',' or ']' (while parsing a flow sequence)"),
        (baseConfig.replacingOccurrences(of: "{type: conv2d, filters: 4, kernel: 3}", with: "{type: conv2d, filters: 3, kernel: 3, groups: 2}"),
         "t.yaml:7:7: model.layers[0]: (conv2d) input channels 1 and filters 3 must both be divisible by groups 2"),
        (baseConfig.replacingOccurrences(of: "{type: dense, units: 10}", with: "{type: dense, units: 10, bias: maybe}"),
         "t.yaml:11:38: model.layers[4].bias: expected true or false, found 'maybe'"),
        (baseConfig.replacingOccurrences(of: "filters: 4, kernel: 3}", with: "filters: 4, kernel: 3, algorithm: fft}"),
         "t.yaml:7:56: model.layers[0].algorithm: expected one of: auto, direct, found 'fft'"),
        (baseConfig + "\nruntime: {precision: fp16}\n",
         "t.yaml:16:22: runtime.precision: expected one of: fp32, bf16, found 'fp16'"),
        (baseConfig + "\nruntime: {precision: [bf16]}\n",
         "t.yaml:16:22: runtime.precision: expected one of: fp32, bf16, found a list of 1 item"),
        (baseConfig.replacingOccurrences(of: "  batch: 8", with: "  batch: 8\n  epoch: 3"),
         "t.yaml:15:3: train.epoch: unknown key; did you mean 'epochs'? (expected one of: architecture, batch, clip_grad_norm, epochs, eval_batch, freeze, init_from, label_smoothing, log_every, on_nan, optimizer, schedule, steps, stop)"),
    ]
    for (yaml, expected) in cases {
        #expect(configError(yaml) == expected)
    }
}

@Test("--set overrides replace values, create keys, address list items, and are validated like the file")
func overrides() throws {
    let c = try RunConfig.parse(yaml: baseConfig, file: "t.yaml",
                                overrides: ["train.epochs=5", "runtime.shard=4", "model.layers[4].units=10",
                                            "model.layers.0.filters=6", "data.normalize.mean=[0.5]", "data.normalize.std=[0.25]"])
    #expect(c.train.epochs == 5 && c.runtime.shard == 4 && c.data.mean == [0.5] && c.data.std == [0.25])
    #expect(try c.model.build().layers[0].outputShape.channels == 6)
    #expect(configError(baseConfig, overrides: ["train.epochs=0"])
            == "t.yaml (--set train.epochs): train.epochs: expected an integer >= 1, found '0'")
    #expect(configError(baseConfig, overrides: ["train.epohcs=3"])?.hasPrefix("t.yaml (--set train.epohcs): train.epohcs: unknown key; did you mean 'epochs'?") == true)
    #expect(configError(baseConfig, overrides: ["train.epochs"]) == "--set train.epochs: expected KEY.PATH=VALUE")
    #expect(configError(baseConfig, overrides: ["model.layers[9].units=3"])
            == "--set model.layers[9].units: index [9] out of range (the list has 5 items)")
}

@Test("the last layer must fit the loss and the classes")
func outputMustFitLoss() throws {
    let c = try RunConfig.parse(yaml: baseConfig, file: "t.yaml")
    #expect(throws: ConfigError("t.yaml:11:7: model.layers[4]: the last layer outputs 10 values but softmax_cross_entropy over 5 classes needs 5")) {
        try c.model.build(classes: 5)
    }
    let b = try RunConfig.parse(yaml: baseConfig, file: "t.yaml", overrides: ["model.loss=binary_logistic"])
    #expect(throws: ConfigError("t.yaml:11:7: model.layers[4]: the last layer outputs 10 values but binary_logistic over 2 classes needs 1")) {
        try b.model.build(classes: 2)
    }
}

@Test("data.validation, on_bad_image, labels, channels and folder: values and exact errors")
func dataSplitOptions() throws {
    let c = try RunConfig.parse(yaml: baseConfig, file: "t.yaml", overrides: ["data.validation=0.1", "data.on_bad_image=skip"])
    #expect(c.data.validation == .fraction(0.1) && c.data.onBadImage == .skip)
    #expect(c.resolvedYAML.contains("validation: 0.1"))
    let folder = baseConfig.replacingOccurrences(of: "dataset: synthetic", with: "dataset: folder\n  path: photos\n  validation: val\n  channels: 1")
    let f = try RunConfig.parse(yaml: folder, file: "t.yaml")
    #expect(f.data.dataset == .folder && f.data.validation == .split("val") && f.data.channels == 1 && f.data.path == "photos")
    #expect(try RunConfig.parse(yaml: baseConfig, file: "t.yaml").data.validation == nil)
    let cases: [([String], String)] = [
        (["data.validation=1.5"], "t.yaml (--set data.validation): data.validation: expected a fraction of the training split between 0 and 1 (exclusive), or a split name such as val; found 1.5"),
        (["data.validation=0"], "t.yaml (--set data.validation): data.validation: expected a fraction of the training split between 0 and 1 (exclusive), or a split name such as val; found 0.0"),
        (["data.validation=val"], "t.yaml (--set data.validation): data.validation: a named validation split needs dataset folder; for synthetic give a fraction of the training split, e.g. 0.1"),
        (["data.on_bad_image=ignore"], "t.yaml (--set data.on_bad_image): data.on_bad_image: expected one of: error, skip, found 'ignore'"),
        (["data.labels=fine"], "t.yaml (--set data.labels): data.labels: labels chooses CIFAR-100's fine or coarse classes; data.dataset is synthetic"),
        (["data.channels=3"], "t.yaml (--set data.channels): data.channels: channels applies to folder datasets; synthetic has its own"),
        (["data.dataset=folder"], "t.yaml:3:3: data: dataset folder needs path: the folder holding train/ and test/ (or val/)"),
        (["data.dataset=folder", "data.path=p", "data.channels=2"], "t.yaml (--set data.channels): data.channels: expected 1 (gray) or 3 (RGB), found 2"),
        (["data.dataset=folder", "data.path=p", "data.validation=test"], "t.yaml (--set data.validation): data.validation: expected a split folder name other than train and test (e.g. val) or a fraction, found 'test'"),
    ]
    for (overrides, expected) in cases {
        #expect(configError(baseConfig, overrides: overrides) == expected)
    }
}
