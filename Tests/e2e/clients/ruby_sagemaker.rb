# A second SDK implementation with its own HTTP stack and error parser: Debian's ruby-aws-sdk-core (AWS SDK for
# Ruby v3). It ships no SageMaker client, so this builds one from the same service model the server embeds (the
# cluster operations of botocore's sagemaker/2017-07-24), the way the SDK's code generator would: Seahorse shapes,
# the JSON-RPC protocol plugin, SigV4 signing. Then it drives the server at ENV["ENDPOINT"] and prints JSON findings.
require "json"
require "aws-sdk-core"
require "aws-sdk-core/plugins/protocols/json_rpc"
require "aws-sdk-core/plugins/sign"

MODEL = JSON.parse(File.read(ARGV.fetch(0)))

module HyperPodRuby
  include Seahorse::Model
  Shapes = Seahorse::Model::Shapes

  def self.snake(name) = name.gsub(/([a-z0-9])([A-Z])/, '\1_\2').gsub(/([A-Z]+)([A-Z][a-z])/, '\1_\2').downcase

  def self.build_api
    shapes = {}
    MODEL["shapes"].each do |name, s|
      klass = { "structure" => Shapes::StructureShape, "list" => Shapes::ListShape, "map" => Shapes::MapShape,
                "string" => Shapes::StringShape, "integer" => Shapes::IntegerShape, "long" => Shapes::IntegerShape,
                "boolean" => Shapes::BooleanShape, "timestamp" => Shapes::TimestampShape, "double" => Shapes::FloatShape,
                "float" => Shapes::FloatShape, "blob" => Shapes::BlobShape }.fetch(s["type"])
      shapes[name] = klass.new(name: name)
    end
    MODEL["shapes"].each do |name, s|
      shape = shapes[name]
      case s["type"]
      when "structure"
        required = s["required"] || []
        (s["memberOrder"] || s["members"].keys).each do |member|
          ref = Shapes::ShapeRef.new(shape: shapes[s["members"][member]["shape"]], required: required.include?(member),
                                     location_name: member)
          shape.add_member(snake(member).to_sym, ref)
        end
        shape[:union] = true if s["union"]
        shape.struct_class = if shape.member_names.empty?
          Aws::EmptyStructure
        else
          Struct.new(*shape.member_names.map(&:to_sym), keyword_init: true) { include Aws::Structure }
        end
      when "list" then shape.member = Shapes::ShapeRef.new(shape: shapes[s["member"]["shape"]])
      when "map"
        shape.key = Shapes::ShapeRef.new(shape: shapes[s["key"]["shape"]])
        shape.value = Shapes::ShapeRef.new(shape: shapes[s["value"]["shape"]])
      end
    end
    api = Seahorse::Model::Api.new
    api.version = MODEL["metadata"]["apiVersion"]
    api.metadata = { "apiVersion" => api.version, "jsonVersion" => "1.1", "protocol" => "json", "serviceId" => "SageMaker",
                     "signatureVersion" => "v4", "signingName" => "sagemaker", "targetPrefix" => "SageMaker",
                     "endpointPrefix" => "api.sagemaker" }
    MODEL["operations"].each do |name, op|
      api.add_operation(snake(name).to_sym, Seahorse::Model::Operation.new.tap do |o|
        o.name = name
        o.http_method = "POST"
        o.http_request_uri = "/"
        o.input = Shapes::ShapeRef.new(shape: shapes[op["input"]]) if op["input"]
        o.output = Shapes::ShapeRef.new(shape: shapes[op["output"]]) if op["output"]
      end)
    end
    api
  end

  module Errors
    extend Aws::Errors::DynamicErrors
  end

  # The endpoint given, signed as sagemaker in the client's region (what the SDK's endpoint rules would resolve).
  class Endpoint < Seahorse::Client::Plugin
    class Handler < Seahorse::Client::Handler
      def call(context)
        context.http_request.endpoint = context.config.endpoint
        context[:auth_scheme] = { "name" => "sigv4", "signingName" => "sagemaker", "signingRegion" => context.config.region }
        @handler.call(context)
      end
    end
    handler(Handler, step: :build, priority: 75)
  end

  class Client < Seahorse::Client::Base
    include Aws::ClientStubs
    @identifier = :sagemaker
    set_api(HyperPodRuby.build_api)
    [Seahorse::Client::Plugins::ContentLength, Aws::Plugins::CredentialsConfiguration, Aws::Plugins::ParamConverter,
     Aws::Plugins::ParamValidator, Aws::Plugins::UserAgent, Aws::Plugins::RetryErrors, Aws::Plugins::GlobalConfiguration,
     Aws::Plugins::RegionalEndpoint, Aws::Plugins::ResponsePaging, Aws::Plugins::JsonvalueConverter,
     Aws::Plugins::StubResponses, Aws::Plugins::RecursionDetection, Aws::Plugins::Sign, Aws::Plugins::Protocols::JsonRpc, Endpoint].each { |p| add_plugin(p) }
    class << self
      attr_reader :identifier

      def errors_module = Errors
    end
  end
end

client = HyperPodRuby::Client.new(endpoint: ENV.fetch("ENDPOINT"), region: "us-east-1", retry_limit: 0,
                                  credentials: Aws::Credentials.new("111122223333", "secret"))
findings = {}
arn = client.create_cluster(cluster_name: "ruby", instance_groups: [{
  instance_group_name: "workers", instance_type: "ml.c5.xlarge", instance_count: 2,
  execution_role: "arn:aws:iam::111122223333:role/hyperpod",
  life_cycle_config: { source_s3_uri: "s3://my-bucket/lcc/", on_create: "on_create.sh" } }]).cluster_arn
findings["arn"] = arn
findings["status"] = client.describe_cluster(cluster_name: "ruby").cluster_status
findings["creation_time_class"] = client.describe_cluster(cluster_name: arn).creation_time.class.name
begin
  client.describe_cluster(cluster_name: "missing")
rescue Aws::Errors::ServiceError => e
  findings["error"] = [e.class.name, e.code, e.message, e.context.http_response.status_code]
end
begin
  client.create_cluster(cluster_name: "bad", instance_groups: [{ instance_group_name: "g", instance_type: "ml.c5.xlarge",
                                                                  instance_count: 7000, execution_role: "arn:aws:iam::111122223333:role/r" }])
rescue Aws::Errors::ServiceError => e
  findings["validation"] = [e.code, e.message]
end
findings["listed"] = client.list_clusters.cluster_summaries.map(&:cluster_name)
puts JSON.generate(findings)
