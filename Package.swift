// swift-tools-version: 6.2
// The vlbatch package: one executable (`vlbatch`) and, as the project grows, the `VLPipeline` library for
// people who write pipelines in their own packages. Module layering is described in docs/architecture.md
// of the team's shared docs: a module imports only modules listed before it here.
import PackageDescription

let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
]

let package = Package(
    name: "vlbatch",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "vlbatch", targets: ["vlbatch"]),
        // The pipeline DSL and runner, for people who write pipelines in their own packages.
        .library(name: "VLPipeline", targets: ["VLPipeline"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
    ],
    targets: [
        // System libraries, found through pkg-config (Debian: libpng-dev, libjpeg-dev).
        .systemLibrary(
            name: "CPNG", pkgConfig: "libpng",
            providers: [.apt(["libpng-dev"]), .brew(["libpng"])]),
        .systemLibrary(
            name: "CJPEG", pkgConfig: "libjpeg",
            providers: [.apt(["libjpeg-dev"]), .brew(["jpeg-turbo"])]),
        // Thin C decode wrappers: libjpeg's setjmp/longjmp error handling stays in C.
        .target(name: "CVLCodecs", dependencies: ["CPNG", "CJPEG"]),

        // Compute kernels: scalar reference + AVX2 / AVX-512 variants picked at run time; -O3 always.
        .target(name: "CVLKernels", cSettings: [.unsafeFlags(["-O3"])]),

        .target(name: "VLCore", dependencies: ["CVLKernels"], swiftSettings: swiftSettings),
        .target(
            name: "VLImage",
            dependencies: ["CVLCodecs", "VLCore"],
            swiftSettings: swiftSettings),
        .target(name: "VLTokenizer", dependencies: ["VLCore"], swiftSettings: swiftSettings),
        .target(
            name: "VLModels",
            dependencies: ["VLCore", "VLImage", "VLTokenizer"],
            swiftSettings: swiftSettings),
        // The generation loop: scheduler, samplers and logit processors, stop rules, label scoring.
        .target(name: "VLEngine", dependencies: ["VLCore", "VLTokenizer", "VLModels"], swiftSettings: swiftSettings),
        // The pipeline layer talks to engines through its own protocol, so it imports no model module.
        .target(name: "VLPipeline", swiftSettings: swiftSettings),
        // Built-in pipelines; the plugin lists every `Pipeline` type in the folder, so a new file needs no other edit.
        .target(
            name: "Pipelines", dependencies: ["VLPipeline"], path: "Pipelines", swiftSettings: swiftSettings,
            plugins: ["PipelineRegistryPlugin"]),
        .executableTarget(name: "PipelineRegistryGenerator", swiftSettings: swiftSettings),
        .plugin(
            name: "PipelineRegistryPlugin", capability: .buildTool(), dependencies: ["PipelineRegistryGenerator"]),
        .executableTarget(
            name: "vlbatch",
            dependencies: [
                "VLCore", "VLImage", "VLTokenizer", "VLModels", "VLEngine", "VLPipeline", "Pipelines",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings),

        // Helpers several test targets share (a safetensors writer); never part of the product.
        .target(name: "TestSupport", path: "Tests/TestSupport", swiftSettings: swiftSettings),
        .testTarget(name: "VLCoreTests", dependencies: ["VLCore", "TestSupport"], swiftSettings: swiftSettings),
        .testTarget(name: "VLImageTests", dependencies: ["VLImage", "VLCore"], swiftSettings: swiftSettings),
        .testTarget(name: "VLTokenizerTests", dependencies: ["VLTokenizer"], swiftSettings: swiftSettings),
        .testTarget(
            name: "VLModelsTests", dependencies: ["VLModels", "VLImage", "VLTokenizer", "VLCore", "TestSupport"],
            swiftSettings: swiftSettings),
        .testTarget(name: "VLEngineTests", dependencies: ["VLEngine", "VLModels"], swiftSettings: swiftSettings),
        .testTarget(name: "VLPipelineTests", dependencies: ["VLPipeline"], swiftSettings: swiftSettings),
        .testTarget(
            name: "vlbatchTests", dependencies: ["vlbatch"], exclude: ["Golden"], swiftSettings: swiftSettings),
    ]
)
