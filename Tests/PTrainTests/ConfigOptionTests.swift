import Testing
import PTrain
import PTrainKernels

/// The `String`-typed stored properties of a config section (recursing into
/// the optimizer and schedule), as `section.property` paths.
private func stringProperties(of value: Any, path: String) -> [String] {
    Mirror(reflecting: value).children.flatMap { child -> [String] in
        guard let label = child.label else { return [] }
        let p = "\(path).\(label)"
        // By static type: a nil optional or an empty array would pass an `is String?` / `is [String]` cast.
        let type = Swift.type(of: child.value)
        if type == String.self || type == String?.self || type == [String].self { return [p] }
        if type == OptimizerConfig.self || type == ScheduleConfig.self { return stringProperties(of: child.value, path: p) }
        return []
    }
}

@Test("no config section keeps an option as a string: closed sets are enums, only free text stays String")
func sectionsHoldNoStringOptions() throws {
    let c = try RunConfig.parse(yaml: baseConfig, file: "t.yaml", overrides: ["data.path=somewhere"])
    let sections: [(String, Any)] = [("data", c.data), ("train", c.train), ("runtime", c.runtime), ("checkpoint", c.checkpoint)]
    // Free text: a path, and layer names (`train.freeze`, checked against the model).
    #expect(sections.flatMap { stringProperties(of: $0.1, path: $0.0) } == ["data.path", "train.initFrom", "train.freeze"])
}

@Test("each closed-set option is an enum spelled as the YAML, in the order errors list the choices")
func optionSpellings() {
    #expect(DataConfig.Dataset.spellings == ["mnist", "fashion-mnist", "digits", "cifar-10", "cifar-100", "folder", "synthetic"])
    #expect(DataConfig.BadImagePolicy.spellings == ["error", "skip"])
    #expect(DataConfig.LabelSet.spellings == ["fine", "coarse"])
    #expect(RuntimeConfig.Loader.spellings == ["auto", "workers", "thread"])
    #expect(DataConfig.EvalViews.spellings == ["center", "ten_crop"])
    #expect(AugmentationOperation.Kind.spellings == ["random_crop", "flip", "lighting"])
    #expect(TrainConfig.NonFinitePolicy.spellings == ["stop", "skip"])
    #expect(OptimizerConfig.Kind.spellings == ["sgd", "adam", "adamw"])
    #expect(ScheduleConfig.Kind.spellings == ["constant", "step", "multistep", "cosine"])
    #expect(RuntimeConfig.Binding.spellings == ["core", "none"])
    #expect(RuntimeConfig.ShardSchedule.spellings == ["dynamic", "static"])
    #expect(ComputePrecision.spellings == ["fp32", "bf16"])
    #expect(RuntimeConfig.BatchNormStatistics.spellings == ["shard", "global"])
    #expect(RuntimeConfig.MomentumSync.spellings == ["average", "local"])
    #expect(CheckpointConfig.BestMetric.spellings == ["top1", "loss", "none"])
    #expect(Conv2D.Algorithm.spellings == ["auto", "direct"])
    #expect(InitScheme.spellings == ["pytorch", "he", "xavier"])
    // An option prints as its spelling (messages name values as the YAML does).
    #expect("\(DataConfig.Dataset.fashionMNIST) \(RuntimeConfig.ShardSchedule.static)" == "fashion-mnist static")
}

@Test("options decode to their cases, and augmentations keep the order written")
func typedOptionsDecode() throws {
    let yaml = baseConfig.replacingOccurrences(
        of: "  dataset: synthetic\n",
        with: "  dataset: synthetic\n  augment: [{type: flip}, {type: random_crop, padding: 2}]\n  eval_views: ten_crop\n")
    let c = try RunConfig.parse(yaml: yaml, file: "t.yaml", overrides: [
        "runtime.bind=none", "runtime.schedule=static", "runtime.batchnorm=global", "runtime.sync.momentum=local",
        "train.on_nan=skip", "checkpoint.best=loss", "runtime.precision=bf16"])
    #expect(c.data.dataset == .synthetic && c.data.evalViews == .tenCrop)
    #expect(c.data.augment == [.flip, .randomCrop(padding: 2)])
    #expect(c.data.randomCrop && c.data.cropPadding == 2 && c.data.flip && c.data.lightingStd == 0)
    #expect(c.runtime.bind == .none && c.runtime.schedule == .static && c.runtime.batchNormStatistics == .global)
    #expect(c.runtime.momentum == .local && c.train.onNaN == .skip && c.checkpoint.best == .loss && c.runtime.precision == .bf16)
    #expect(c.train.optimizer.kind == .sgd)
    // The resolved config spells them as the YAML does.
    for line in ["eval_views: ten_crop", "bind: none", "schedule: static", "batchnorm: global", "momentum: local",
                 "on_nan: skip", "best: loss", "precision: bf16"] {
        #expect(c.resolvedYAML.contains(line), "\(line)")
    }
}
