import Testing
import PTrain

// `data.transforms` / `data.eval_transforms`: decoding in order, and every
// error with its exact text.

/// `baseConfig` with these lines added under `data:` (each indented by two spaces).
func withDataLines(_ lines: String) -> String {
    baseConfig.replacingOccurrences(of: "  dataset: synthetic\n", with: "  dataset: synthetic\n" + lines)
}

@Test("transforms decode in the order written, with torchvision's defaults")
func transformsDecode() throws {
    let c = try RunConfig.parse(yaml: withDataLines("""
      transforms:
        - {type: random_resized_crop, size: 224}
        - {type: flip}
        - {type: color_jitter, brightness: 0.4, saturation: 0.2}
        - {type: lighting}
        - {type: random_crop, height: 30, width: 20, padding: 4}
      eval_transforms: [{type: resize, size: 256}, {type: resize, height: 10, width: 12}, {type: center_crop, size: 224},
                        {type: lighting, alphastd: 0.2, eigenvalues: [1, 2, 3], eigenvectors: [[1, 0, 0], [0, 1, 0], [0, 0, 1]]}]
      eval_views: ten_crop

    """), file: "t.yaml")
    #expect(c.data.transforms == [.randomResizedCrop(height: 224, width: 224, scale: 0.08...1, ratio: 0.75...(4.0 / 3)), .flip,
                                  .colorJitter(brightness: 0.4, contrast: 0, saturation: 0.2),
                                  .lighting(alphaStd: 0.1, eigenvalues: nil, eigenvectors: nil),
                                  .randomCrop(height: 30, width: 20, padding: 4)])
    #expect(c.data.evalTransforms == [.resize(.side(256)), .resize(.exact(height: 10, width: 12)), .centerCrop(height: 224, width: 224),
                                      .lighting(alphaStd: 0.2, eigenvalues: [1, 2, 3], eigenvectors: [[1, 0, 0], [0, 1, 0], [0, 0, 1]])])
    #expect(c.data.crop == nil && c.data.augment.isEmpty)
    #expect(c.resolvedYAML.contains("type: random_resized_crop"))
    #expect(TransformOperation.Kind.spellings == ["resize", "center_crop", "random_crop", "random_resized_crop", "flip", "color_jitter", "lighting"])
}

@Test("transform config errors name the entry, what was expected and what was found")
func transformConfigErrors() {
    let cases: [(String, String)] = [
        ("  transforms: [{type: rotate}]\n",
         "t.yaml:4:23: data.transforms[0].type: expected one of: resize, center_crop, random_crop, random_resized_crop, flip, color_jitter, lighting, found 'rotate'"),
        ("  transforms: [{type: flip, p: 0.3}]\n",
         "t.yaml:4:29: data.transforms[0].p: unknown key (expected one of: type)"),
        ("  transforms: [{type: resize}]\n",
         "t.yaml:4:16: data.transforms[0]: expected size, or height and width"),
        ("  transforms: [{type: resize, height: 5}]\n",
         "t.yaml:4:16: data.transforms[0]: expected size, or height and width"),
        ("  transforms: [{type: center_crop, size: 5, width: 4}]\n",
         "t.yaml:4:16: data.transforms[0]: give size or height and width, not both"),
        ("  transforms: [{type: center_crop, size: 0}]\n",
         "t.yaml:4:42: data.transforms[0].size: expected an integer in [1, 100000], found '0'"),
        ("  transforms: [{type: random_crop, size: 8, padding: -1}]\n",
         "t.yaml:4:54: data.transforms[0].padding: expected an integer in [0, 10000], found '-1'"),
        ("  transforms: [{type: random_resized_crop, size: 8, scale: [0.5, 0.1]}]\n",
         "t.yaml:4:60: data.transforms[0].scale: expected [min, max] with min <= max, found [0.5, 0.1]"),
        ("  transforms: [{type: random_resized_crop, size: 8, scale: [0.5, 1.5]}]\n",
         "t.yaml:4:66: data.transforms[0].scale[1]: expected a number in (0.0, 1.0], found '1.5'"),
        ("  transforms: [{type: random_resized_crop, size: 8, ratio: [0, 1]}]\n",
         "t.yaml:4:61: data.transforms[0].ratio[0]: expected a number in (0.0, 100.0], found '0'"),
        ("  transforms: [{type: random_resized_crop, size: 8, ratio: [0.75]}]\n",
         "t.yaml:4:60: data.transforms[0].ratio: expected a list of 2 numbers, found a list of 1 item"),
        ("  transforms: [{type: color_jitter, brightness: -0.1}]\n",
         "t.yaml:4:49: data.transforms[0].brightness: expected a number in [0.0, 100.0], found '-0.1'"),
        ("  transforms: [{type: color_jitter, brightness: 0.4, hue: 0.1}]\n",
         "t.yaml:4:59: data.transforms[0].hue: hue jitter is not supported (brightness, contrast and saturation are)"),
        ("  transforms: [{type: lighting, alphastd: 11}]\n",
         "t.yaml:4:43: data.transforms[0].alphastd: expected a number in [0.0, 10.0], found '11'"),
        ("  transforms: [{type: lighting, eigenvalues: [1, 2, 3]}]\n",
         "t.yaml:4:16: data.transforms[0]: give both eigenvalues and eigenvectors, or neither (then they are fitted from the training images)"),
        ("  transforms: [{type: lighting, eigenvalues: [1, 2], eigenvectors: [[1, 0, 0], [0, 1, 0], [0, 0, 1]]}]\n",
         "t.yaml:4:46: data.transforms[0].eigenvalues: expected a list of 3 numbers, found a list of 2 items"),
        ("  transforms: [{type: lighting, eigenvalues: [1, 2, 3], eigenvectors: [[1, 0, 0], [0, 1, 0]]}]\n",
         "t.yaml:4:71: data.transforms[0].eigenvectors: expected a list of 3 rows of 3 numbers, found a list of 2 items"),
        ("  transforms: [{type: lighting, eigenvalues: [1, 2, 3], eigenvectors: [[1, 0, 0], [0, 1], [0, 0, 1]]}]\n",
         "t.yaml:4:83: data.transforms[0].eigenvectors[1]: expected a list of 3 numbers, found a list of 2 items"),
        ("  transforms: {type: flip}\n",
         "t.yaml:4:15: data.transforms: expected a list, found a mapping"),
        ("  crop: 6\n  transforms: [{type: flip}]\n",
         "t.yaml:5:15: data.transforms: replaces data.crop and data.augment; use one or the other"),
        ("  augment: [{type: flip}]\n  eval_transforms: [{type: center_crop, size: 4}]\n",
         "t.yaml:5:20: data.eval_transforms: replaces data.crop and data.augment; use one or the other"),
        ("  eval_views: ten_crop\n  eval_transforms: [{type: resize, size: 4}]\n",
         "t.yaml:5:20: data.eval_transforms: eval_views: ten_crop cuts its views at a center_crop, and this list has none"),
    ]
    for (lines, expected) in cases {
        #expect(configError(withDataLines(lines)) == expected, "\(lines)")
    }
}
