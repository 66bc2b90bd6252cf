import ArgumentParser
import HyperPodLocal

/// `hyperpod-local`: a local emulator of the Amazon SageMaker HyperPod cluster control plane.
@main
struct HyperPodLocalCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "hyperpod-local",
        abstract: "A local emulator of the Amazon SageMaker HyperPod cluster control plane (AWS JSON 1.1 on HTTP/1.1).",
        version: Emulator.version,
        subcommands: [Serve.self, Health.self],
        defaultSubcommand: Serve.self
    )
}
